-- wrk script: POSTs distinct transactions (bodies precomputed with their
-- content hashes, one per line of BODIES, each thread its own slice) and
-- counts the answers by HTTP status; done() prints "status COUNT" lines.
local bodies_path = os.getenv("BODIES")
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  local slice = tonumber(os.getenv("SLICE"))
  local first = (index - 1) * slice
  local n = 0
  for line in io.lines(bodies_path) do
    if n >= first and n < first + slice then table.insert(bodies, line) end
    n = n + 1
  end
  next_body = 1
  statuses = {}
end

function request()
  -- Past the slice's end the bodies repeat (and are refused as duplicates).
  local body = bodies[(next_body - 1) % #bodies + 1]
  next_body = next_body + 1
  return wrk.format("POST", "/v1/transactions", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, count in pairs(counts) do total[status] = (total[status] or 0) + count end
  end
  for status, count in pairs(total) do print(string.format("status %d %d", status, count)) end
end
