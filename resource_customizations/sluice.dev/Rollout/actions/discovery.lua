local status = obj.status or {}
local releasing = status.phase == "Progressing" or status.phase == "Paused"
local actions = {}
actions["promote"] = { disabled = not releasing }
actions["promote-full"] = { disabled = not releasing }
actions["abort"] = { disabled = not releasing }
actions["retry"] = { disabled = status.abort ~= true }
actions["pause"] = { disabled = status.phase ~= "Progressing" }
actions["resume"] = { disabled = status.phase ~= "Paused" }
return actions
