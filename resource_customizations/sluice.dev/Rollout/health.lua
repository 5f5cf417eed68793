local hs = { status = "Progressing", message = "Waiting for Sluice to observe the Rollout" }
if obj.status == nil then
  return hs
end
local status = obj.status
local generation = obj.metadata.generation or 0
if status.observedGeneration == nil or status.observedGeneration < generation then
  hs.message = "Waiting for Sluice to observe generation " .. tostring(generation)
  return hs
end
local function condition(kind)
  for _, c in ipairs(status.conditions or {}) do
    if c.type == kind then
      return c
    end
  end
  return nil
end
local stalled = condition("Stalled")
local message = status.message or ""
if status.phase == "Degraded" then
  hs.status = "Degraded"
  hs.message = message
elseif stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or message
elseif status.phase == "Paused" then
  hs.status = "Suspended"
  hs.message = message
elseif status.phase == "Healthy" then
  local ready = condition("Ready")
  if ready ~= nil and ready.status ~= "True" then
    hs.message = ready.message or message
  else
    hs.status = "Healthy"
    hs.message = message
  end
else
  hs.status = "Progressing"
  hs.message = message
end
return hs
