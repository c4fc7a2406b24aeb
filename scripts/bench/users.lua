-- wrk script: GET or PUT /hello/{name} for random users out of BENCH_USERS, named exactly as
-- scripts/bench/bench.py imports them ("user" + the index in base 26, little-endian letters).
local users = tonumber(os.getenv("BENCH_USERS") or "100000")
local method = os.getenv("BENCH_METHOD") or "GET"

local function name(i)
  local s = "user"
  repeat
    local r = i % 26
    s = s .. string.char(97 + r)
    i = (i - r) / 26
  until i == 0
  return s
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
end

function request()
  local path = "/hello/" .. name(math.random(0, users - 1))
  if method == "PUT" then
    local body = string.format('{"dateOfBirth":"%04d-%02d-%02d"}',
      math.random(1950, 2010), math.random(1, 12), math.random(1, 28))
    return wrk.format("PUT", path, { ["Content-Type"] = "application/json" }, body)
  end
  return wrk.format("GET", path)
end
