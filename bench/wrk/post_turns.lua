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
local errors = 0

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
  local text = texts[(counter % #texts) + 1]
  local body = '{"role":"user","text":"' .. json_escape(text) .. '"}'
  return wrk.format("POST", "/v1/conversations/" .. id .. "/turns", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then errors = errors + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d errors_non201=%d socket_errors=%d\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in ipairs({50, 99, 99.9}) do
    io.write(string.format("p%s_ms=%.3f\n", p, latency:percentile(p) / 1000.0))
  end
  io.write(string.format("rps=%.1f\n", summary.requests / (summary.duration / 1e6)))
end
