local os = require("os")
obj.status = obj.status or {}
obj.status.signals = obj.status.signals or {}
obj.status.signals.promote = { requestedAt = os.date("!%Y-%m-%dT%H:%M:%SZ"), by = "argocd", full = true }
return obj
