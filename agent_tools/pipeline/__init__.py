"""The call pipeline: admit -> run -> record -> answer, over the stores and the model.

* gateway.py      Gateway: one tool call, its steps in order, each one call (the only module that knows the order)
  x admit.py      token, address rate, labels, bounds, tool and scope, policy, run owner, decision, intent, budgets
  x execute.py    the tool: live in the call's unit, a preview in one that rolls back; which way a write goes
  x record.py     the call's one audit record: in the change's unit, else by group commit; the agent confirmed
  x answer.py     the CallResult a face translates: 200, 202 pending, or a Parse-style error
    + budgets.py  a run's budgets as a call spends them (its place, its calls, the objects shown)
    + call.py     CallRequest, Call (in flight), CallResult: all the steps share; x: no step imports another
* shaping.py      the run's intent on a call's reads and writes, untrusted text, exposure
* approver.py     an approval decided: the previewed change runs if the data is still as previewed
* delegations.py  an agent acting for a user
* runs.py         run tokens and replay of a run's calls
* retries.py      a retried call must be the same call;  telemetry.py  OpenTelemetry spans
"""
