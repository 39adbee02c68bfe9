"""`wheelship rehearse`: the project's own release workflow, run end to end on this
machine against the sandbox, before the tag is pushed.

`act` evaluates the workflow file for real (jobs, `needs` outputs, the build matrix
from the plan, `if:`, `env`) and runs its Linux jobs on this host. Each pinned action
is replaced by a stand-in (pipeline.standins) that does here what the action does on
GitHub; trusted publishing and the AWS role are replaced by the sandbox's index
tokens and S3 keys, and the rehearsal says so. The plan covers what this host can
build (``WHEELSHIP_REHEARSAL``); the slices of other runners are listed as not
rehearsable, with the command their job would run, never as passed. Afterwards the
rehearsal reads what the sandbox's indexes and store hold.

One module per side: `github` (the workflow, its triggers, the event payload), `act`
(its command line and its log), `environment` (what act and its jobs see of this
process's environment), `outcome` (jobs, results, the table and the JSON), `command`.
"""

from pipeline.rehearsal.command import rehearse
from pipeline.rehearsal.github import EVENTS, Rehearsal

__all__ = ["EVENTS", "Rehearsal", "rehearse"]
