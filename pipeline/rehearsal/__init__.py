"""`wheelship rehearse`: the project's own release workflow, run end to end on this
machine against the sandbox, before the tag is pushed.

`act` evaluates the workflow file for real (jobs, `needs` outputs, the build matrix
from the plan, `if:`, `env`) and runs its Linux jobs on this host. Each pinned action
is replaced by a stand-in (pipeline.standins) that does here what the action does on
GitHub. What GitHub gives a job with id-token: write (an OIDC identity, and so trusted
publishing and signing) is given to those jobs alone by a stand-in step put first in
each of them (`identity`): the sandbox's identity and Sigstore, and its index tokens.
The store is reached the way the repository's configuration says (``--store-access``):
the AWS role (the sandbox's S3 keys, from the configure-aws-credentials stand-in) or an
endpoint with keys (a variable and two secrets); `gh` is a stand-in keeping GitHub
Releases with the sandbox. The rehearsal says what it replaced. The plan covers what
this host can build (``WHEELSHIP_REHEARSAL``); the slices of other runners are listed
as not rehearsable, with the command their job would run, never as passed. Afterwards
the rehearsal reads what the sandbox's indexes, store and releases hold, and which jobs
got the identity.

One module per side: `github` (the workflow, its triggers, the event payload), `act`
(its command line and its log), `environment` (what act and its jobs see of this
process's environment), `identity` (which jobs get an OIDC identity),
`outcome` (jobs, results, the table and the JSON), `command`.
"""

from pipeline.rehearsal.command import rehearse
from pipeline.rehearsal.github import EVENTS, Rehearsal

__all__ = ["EVENTS", "Rehearsal", "rehearse"]
