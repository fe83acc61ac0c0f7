"""The call pipeline: admit -> run -> record, over the stores and the model.

* gateway.py      Gateway: one tool call, its steps in order (authenticate, admit, run, record)
* shaping.py      the run's intent on a call's reads and writes, untrusted text, exposure
* approver.py     an approval decided: the previewed change runs if the data is still as previewed
* delegations.py  an agent acting for a user
* runs.py         run tokens and replay of a run's calls
* retries.py      a retried call must be the same call;  telemetry.py  OpenTelemetry spans
"""
