// Raising the soft limit on open descriptors to the hard one.
#include "handover/util/open_file_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace handover {

Result<OpenFileLimit> raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Status::internal(std::string("cannot read the open file limit: ") +
                            std::strerror(errno));
  }
  OpenFileLimit out{limit.rlim_cur, limit.rlim_cur, limit.rlim_max};
  if (limit.rlim_cur >= limit.rlim_max) return out;

  rlimit raised = limit;
  raised.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.soft = raised.rlim_cur;
  return out;
}

}  // namespace handover
