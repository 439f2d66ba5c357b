-- wrk script: durable POST /v1/conversations/{id}/turns spread over many conversations.
-- Reads conversation ids (one per line) from $IDS_FILE and texts from $TEXTS_FILE.
local ids, texts = {}, {}
local key = os.getenv("API_KEY") or "dev-bot-key-change-me"

local function read_lines(path, out)
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
end

read_lines(os.getenv("IDS_FILE"), ids)
read_lines(os.getenv("TEXTS_FILE"), texts)

local counter = 0

function init(args)
  counter = math.random(1, #ids)
end

local function json_escape(s)
  return (s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' end
    return string.format("\\u%04x", string.byte(c))
  end))
end

function request()
  counter = counter + 1
  local id = ids[(counter % #ids) + 1]
  -- Texts move at another stride than conversations (as in bench/tools/http_load), so each
  -- conversation gets varied texts. With one stride and 2,000 texts over 1,000 conversations,
  -- each conversation would repeat the same two texts for as long as the load runs.
  local text = texts[((counter * 7 + math.floor(counter / #ids)) % #texts) + 1]
  local body = '{"role":"user","text":"' .. json_escape(text) .. '"}'
  return wrk.format("POST", "/v1/conversations/" .. id .. "/turns", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end

-- One JSON line, read by bench/run.sh. Errors are non-2xx/3xx answers plus socket errors.
function done(summary, latency, requests)
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    '{"requests":%d,"errors":%d,"socket_errors":%d,"seconds":%.3f,"rps":%.1f,' ..
    '"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests, e.status + socket_errors, socket_errors, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000.0,
    latency:percentile(99) / 1000.0, latency:percentile(99.9) / 1000.0, latency.max / 1000.0))
end
