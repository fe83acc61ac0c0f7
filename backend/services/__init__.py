"""backend/services: the rules, and the one data path. Each group imports only the groups below it.

* wiring.py   build_services: every service built once (the layer above all the groups)
* identity/   users, sessions, passwords, roles, accounts, authdata, mail, service.py (the identity layer)
  cloud/      service.py (CloudService), loader.py, reload.py, rules.py, data.py: the app's cloud code
* files/      service.py (FileService), config.py, orphans.py
* data/       objects.py (ObjectService) and what it uses: schemas, query/matching, reads, includes,
              render, nested/ops, field_rules, aggregate/pipeline, batch, appends, idempotency,
              installations, config (Parse Config), schema_admin, security_log
* shared/     what every group uses: units (transactions), access (ACL/CLP), events, triggers,
              internal (Ballast's own classes), rate_limits, readiness
"""
