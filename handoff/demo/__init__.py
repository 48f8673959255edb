"""The demo (cast, names, stories, the demo CRM's lead scripts, the seed) that seed_demo and the demo CRM share."""
# `cast`, `names`, `stories` and `scripts` are plain data and pure functions, so the CRM layer (handoff.crm.demo)
# may read them; `seed` is the one module that writes, through the services. Nothing is imported here, so reading
# the cast never loads the ORM.
