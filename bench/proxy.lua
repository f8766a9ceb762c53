-- wrk script for bench/proxy.sh: POSTs one InvioPrescritto body (BODY_FILE) to
-- the DEM path, with the doctor's Basic header (BASIC).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()
local dem = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto"
-- tsgate: one path per workstation token (TOKENS_FILE, one a line), used in turn, because
-- tsgate limits each workstation to 200 proxied calls/s; nginx and direct: PATH_PREFIX.
local paths = {}
local tokens = os.getenv("TOKENS_FILE")
if tokens and tokens ~= "" then
  for line in io.lines(tokens) do
    if line ~= "" then paths[#paths + 1] = "/ts/" .. line .. dem end
  end
else
  paths[1] = (os.getenv("PATH_PREFIX") or "") .. dem
end
local headers = {
  ["Content-Type"] = "text/xml; charset=UTF-8",
  ["SOAPAction"] = '"http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto"',
  ["Authorization"] = os.getenv("BASIC"),
}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", paths[(n % #paths) + 1], headers, body)
end
done = function(summary)
  io.write(string.format("requests with a non-2xx status: %d\n", summary.errors.status))
end
