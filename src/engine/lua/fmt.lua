-- fmt(n): a whole number below 2^63 (a score, a count) as decimal text. "%d" is exact and
-- cheap; tostring would write a microsecond score in exponent notation.
local function fmt(n)
  return string.format("%d", n)
end
