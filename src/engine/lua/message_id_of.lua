-- message_id_of(field): the message id a hash field belongs to, when the field is a message
-- field by its form: an id (32 characters of A-Z, a-z, 0-9 and ":", the form every RSMQ
-- client checks), or an id followed by ":rc" or ":fr". nil for any other field.
local function message_id_of(field)
  local id = field
  if #field == 35 then
    local tail = string.sub(field, 33)
    if tail ~= ":rc" and tail ~= ":fr" then return nil end
    id = string.sub(field, 1, 32)
  elseif #field ~= 32 then
    return nil
  end
  if string.find(id, "[^%w:]") then return nil end
  return id
end
