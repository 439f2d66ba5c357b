// A FIFO that hands its contents out in batches without allocating per element.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

namespace handover::store {

// Elements live in one vector; taking a batch moves a prefix out and advances a head index,
// and the consumed prefix is dropped once it is at least half the vector, so every element
// is moved a constant number of times on average. Not thread-safe: the owner locks.
template <class T>
class BatchQueue {
 public:
  std::size_t size() const { return items_.size() - head_; }
  bool empty() const { return size() == 0; }

  void push(T&& item) { items_.push_back(std::move(item)); }

  // Moves the oldest min(size(), max) elements to the end of `out` (which should be empty
  // to reuse its capacity), oldest first.
  void take(std::vector<T>& out, std::size_t max) {
    std::size_t count = std::min(size(), max);
    if (head_ == 0 && count == items_.size() && out.empty()) {
      out.swap(items_);  // the common case: both vectors keep their capacity
      return;
    }
    auto first = items_.begin() + static_cast<std::ptrdiff_t>(head_);
    std::move(first, first + static_cast<std::ptrdiff_t>(count), std::back_inserter(out));
    head_ += count;
    compact();
  }

 private:
  void compact() {
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  std::vector<T> items_;
  std::size_t head_ = 0;  // items_[0, head_) were taken and are moved-from
};

}  // namespace handover::store
