-- wrk script for bench/backend.sh: GET /api/v1/users/<doctor>/session for a random doctor
-- among DOCTORS (user ids B0000001 … B<DOCTORS, 7 digits>), with one backend workstation's
-- token (TOKEN) as Bearer. Counts the answers by status, per thread, and prints the non-2xx.
local doctors = tonumber(os.getenv("DOCTORS"))
local headers = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN") }

local threads = {}
local next_id = 0
setup = function(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  threads[#threads + 1] = thread
end

init = function(args)
  math.randomseed(os.time() * 1000 + id)
  statuses = {}
  non2xx = 0
end

request = function()
  local path = string.format("/api/v1/users/B%07d/session", math.random(doctors))
  return wrk.format("GET", path, headers)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx == 1 then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
end

done = function(summary, latency, requests)
  local bad, all = 0, {}
  local first
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    first = first or thread:get("first_bad")
    for status, n in pairs(thread:get("statuses")) do all[status] = (all[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(all) do parts[#parts + 1] = status .. ": " .. n end
  table.sort(parts)
  io.write(string.format("statuses: %s\n", table.concat(parts, ", ")))
  io.write(string.format("non-2xx: %d\n", bad))
  if first then io.write(string.format("first non-2xx: %s\n", first)) end
end
