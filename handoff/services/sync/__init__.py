"""The CRM sync, one module per stage.

- `config`: the CRM_* settings read and checked at start;
- `mapping`: a CRM record converted to Lead values (pure);
- `lease`: one sync (and one write-back flush) at a time;
- `reps`: CRM users matched to reps, or created;
- `pages`: a page of records applied in one transaction: upsert, tombstones, handoffs, milestones;
- `runs`: incremental pull, import, deletes and reconcile, and `sync_run` that records them;
- `preview`: the dry run.
"""

from .lease import SyncBusy
from .preview import sync_preview
from .runs import sync_run

__all__ = ["SyncBusy", "sync_preview", "sync_run"]
