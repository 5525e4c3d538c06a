-- b36(n): n (below 36^10) as 10 base-36 digits, lowercase, zero-padded: the time part of an
-- id, which has exactly 10 digits from 1973 to 2085. Plain arithmetic and one string.char:
-- no table, no loop.
local function b36(n)
  local d0 = n % 36 n = (n - d0) / 36
  local d1 = n % 36 n = (n - d1) / 36
  local d2 = n % 36 n = (n - d2) / 36
  local d3 = n % 36 n = (n - d3) / 36
  local d4 = n % 36 n = (n - d4) / 36
  local d5 = n % 36 n = (n - d5) / 36
  local d6 = n % 36 n = (n - d6) / 36
  local d7 = n % 36 n = (n - d7) / 36
  local d8 = n % 36 n = (n - d8) / 36
  local d9 = n % 36
  return string.char(d9 < 10 and d9 + 48 or d9 + 87, d8 < 10 and d8 + 48 or d8 + 87,
    d7 < 10 and d7 + 48 or d7 + 87, d6 < 10 and d6 + 48 or d6 + 87,
    d5 < 10 and d5 + 48 or d5 + 87, d4 < 10 and d4 + 48 or d4 + 87,
    d3 < 10 and d3 + 48 or d3 + 87, d2 < 10 and d2 + 48 or d2 + 87,
    d1 < 10 and d1 + 48 or d1 + 87, d0 < 10 and d0 + 48 or d0 + 87)
end
