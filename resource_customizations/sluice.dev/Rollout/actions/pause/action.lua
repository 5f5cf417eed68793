local os = require("os")
obj.status = obj.status or {}
obj.status.signals = obj.status.signals or {}
obj.status.signals.pause = { requestedAt = os.date("!%Y-%m-%dT%H:%M:%SZ"), by = "argocd" }
return obj
