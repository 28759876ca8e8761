-- One benchmark scenario for wrk, with a random buyer's token on every request.
--
--   wrk -t2 -c8 -d10s -s bench/wrk/scenario.lua http://127.0.0.1:PORT -- DATA_FILE SCENARIO
--
-- DATA_FILE is the Lua table bench/run.py writes from the generated dataset: buyers'
-- tokens, visible product ids, the deep page number, search terms and the first catalogue
-- page's ETag. Every response outside 2xx is counted (wrk itself lets 3xx pass); in the
-- catalogue_304 scenario a connection holds the page as a client would, sending the ETag it
-- last got, and counts every answer but a 304 or a new page (the ETag moves with the
-- catalogue's 60 s window); done() prints one JSON line.

local data, scenario
non2xx = 0  -- globals, so that done() can read them from every thread
refreshed = 0

local function pick(list)
  return list[math.random(#list)]
end

local function product()
  return pick(data.products)
end

local scenarios = {
  healthz = function() return "GET", "/healthz" end,
  catalogue = function() return "GET", "/products/" end,
  deep_page = function() return "GET", "/products/?page=" .. data.deep_page end,
  search = function() return "GET", "/products/?search=" .. pick(data.search_terms) end,
  detail = function() return "GET", "/products/" .. product() .. "/" end,
  history = function() return "GET", "/orders/" end,
  current = function() return "GET", "/orders/current/" end,
  add_to_order = function()
    return "POST", "/products/" .. product() .. "/add_to_order/", '{"quantity": 1}'
  end,
  submit = function()
    return "POST", "/orders/", '{"items": [{"product": ' .. product() .. ', "quantity": 1}]}'
  end,
  -- The catalogue's first page asked for again by a client that holds it: a 304.
  catalogue_304 = function()
    return "GET", "/products/", nil, {["If-None-Match"] = held_etag}
  end,
  -- A flash sale: every connection orders one unit of the same product.
  hot_product = function()
    return "POST", "/orders/", '{"items": [{"product": ' .. data.products[1] .. ', "quantity": 1}]}'
  end,
}

-- order_N: one order of N lines on N distinct products picked at random.
local function order_of(lines)
  return function()
    local chosen, items = {}, {}
    while #items < lines do
      local id = product()
      if not chosen[id] then
        chosen[id] = true
        items[#items + 1] = '{"product": ' .. id .. ', "quantity": 1}'
      end
    end
    return "POST", "/orders/", '{"items": [' .. table.concat(items, ", ") .. "]}"
  end
end
for _, lines in ipairs({1, 10, 100, 500}) do
  scenarios["order_" .. lines] = order_of(lines)
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  data = dofile(args[1])
  scenario = scenarios[args[2]]
  expect_304 = args[2] == "catalogue_304"
  held_etag = data.catalogue_etag
  if scenario == nil then
    error("unknown scenario " .. tostring(args[2]))
  end
  math.randomseed(os.time() * 100 + thread_number)
end

function request()
  local method, path, body, extra = scenario()
  local headers = {
    ["Authorization"] = "Token " .. pick(data.tokens),
    ["X-Forwarded-Proto"] = "https",
  }
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  if body then
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  if expect_304 then
    local etag = headers["ETag"]
    if status == 200 and etag then
      -- A new window: the client keeps the new page. Every connection gets one full page
      -- per window; bench/run.py counts any more as failures.
      held_etag = etag
      refreshed = refreshed + 1
    elseif status ~= 304 then
      non2xx = non2xx + 1
    end
  elseif status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local failed, full_pages = 0, 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("non2xx")
    full_pages = full_pages + thread:get("refreshed")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "refreshed": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, failed, full_pages,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
