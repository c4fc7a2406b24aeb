-- wrk script: GET or PUT /hello/{name} for random users among those the benchmark imported (scripts/harness),
-- read from the file it wrote (BENCH_NAMES, one name per line), so the names are made in one place.
local method = os.getenv("BENCH_METHOD") or "GET"
local names = {}

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
  local path = assert(os.getenv("BENCH_NAMES"), "BENCH_NAMES is not set")
  for line in io.lines(path) do
    names[#names + 1] = line
  end
end

function request()
  local path = "/hello/" .. names[math.random(1, #names)]
  if method == "PUT" then
    local body = string.format('{"dateOfBirth":"%04d-%02d-%02d"}',
      math.random(1950, 2010), math.random(1, 12), math.random(1, 28))
    return wrk.format("PUT", path, { ["Content-Type"] = "application/json" }, body)
  end
  return wrk.format("GET", path)
end
