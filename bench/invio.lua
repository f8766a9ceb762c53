-- wrk script: POSTs the InvioPrescritto bodies written by the sim_bench_bodies example,
-- in turn, with the Basic and Authorization2F headers it wrote.
local dir = os.getenv("BODY_DIR")
local count = tonumber(os.getenv("BODY_COUNT"))
local bodies = {}
for i = 0, count - 1 do
  local f = assert(io.open(dir .. "/body-" .. i .. ".xml", "rb"))
  bodies[#bodies + 1] = f:read("*a")
  f:close()
end
local headers = {
  ["Content-Type"] = "text/xml; charset=UTF-8",
  ["SOAPAction"] = '"http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto"',
}
for line in io.lines(dir .. "/headers.txt") do
  local k, v = line:match("^([^:]+):%s*(.*)$")
  if k then headers[k] = v end
end
local path = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto"
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", path, headers, bodies[(n % #bodies) + 1])
end
done = function(summary)
  io.write(string.format("requests with a non-2xx status: %d\n", summary.errors.status))
end
