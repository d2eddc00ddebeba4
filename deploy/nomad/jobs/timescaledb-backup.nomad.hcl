# pgBackRest backups of the whole Patroni cluster (the vietmarket AND dagster databases): a full backup once a
# week, a differential on the other days, into the pgBackRest repository that the cluster's WAL archive
# (archive_command in timescaledb-ha.nomad.hcl) also writes to; that pair is what makes a point-in-time restore.
#
#   nomad job run deploy/nomad/jobs/timescaledb-backup.nomad.hcl    (from the repo root)
#   nomad job periodic force timescaledb-backup                     (one now: a diff, or a full on full_weekday)
#
# One allocation per database node; only the one beside the current leader backs up (pgBackRest reads the
# leader's data directory and talks to it over its Unix socket), the other exits 0 at once. Config: the one
# template deploy/pgbackrest/pgbackrest.conf.tmpl, rendered in the task by deploy/common/render.py from the
# PGBR_* variables below (as the local HA harness renders it: scripts/ha.sh backup full|diff runs the same
# pgBackRest commands). Retention: repo1-retention-full full backups (and the WAL they need), and
# repo1-retention-diff differentials; older ones expire after each backup.
# Restore: HA_TIMESCALE_RUNBOOK.md, "Restore from pgBackRest" (the sequence the restore drill runs).
#
# Host volumes on db-a and db-b: "timescaledb-data" (the cluster's) and "pgbackrest-repo", which must be the SAME
# storage on both nodes (an NFS export, say), since whichever node leads archives its WAL into it.
# No secrets: pgBackRest connects as the postgres OS user over the socket (pg_hba `local all postgres peer`).

variable "image" {
  type = string
  # The database image (deploy/timescaledb): the cluster's PostgreSQL 15 and the same pgBackRest.
  default = "vietmarket/timescaledb-ha:latest"
}

variable "retention_full" {
  type    = number
  default = 2
}

variable "retention_diff" {
  type    = number
  default = 6
}

variable "full_weekday" {
  type        = number
  description = "ISO day of the week (1 Monday .. 7 Sunday, Vietnam time) of the weekly full backup"
  default     = 7
}

job "timescaledb-backup" {
  datacenters = ["*"]
  type        = "batch"

  periodic {
    crons            = ["30 1 * * *"]
    time_zone        = "Asia/Ho_Chi_Minh"
    prohibit_overlap = true
  }

  group "backup" {
    count = 2

    # Beside each Patroni member: whichever leads tonight is backed up from its own node.
    constraint {
      attribute = "${node.class}"
      operator  = "regexp"
      value     = "^(db-a|db-b)$"
    }
    constraint {
      operator  = "distinct_property"
      attribute = "${node.class}"
      value     = "1"
    }
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }

    # A failed night retries twice, an hour apart, then waits for the next night (and shows as failed).
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts       = 2
      interval       = "6h"
      delay          = "1h"
      delay_function = "constant"
      unlimited      = false
    }

    volume "timescaledb-data" {
      type      = "host"
      source    = "timescaledb-data"
      read_only = false
    }

    volume "pgbackrest-repo" {
      type      = "host"
      source    = "pgbackrest-repo"
      read_only = false
    }

    task "pgbackrest" {
      driver = "docker"
      # The data directory's owner (uid 1000 in the database image), as pgBackRest requires.
      user = "postgres"

      config {
        image   = var.image
        command = "/bin/bash"
        args    = ["/local/backup.sh"]
        # Host networking: Patroni's REST API on this node says whether it leads.
        network_mode = "host"
      }

      volume_mount {
        volume      = "timescaledb-data"
        destination = "/home/postgres/pgdata"
      }

      volume_mount {
        volume      = "pgbackrest-repo"
        destination = "/var/lib/pgbackrest"
      }

      env {
        PGBR_STANZA         = "vietmarket"
        PGBR_REPO_PATH      = "/var/lib/pgbackrest"
        PGBR_RETENTION_FULL = "${var.retention_full}"
        PGBR_RETENTION_DIFF = "${var.retention_diff}"
        PGBR_PG_DATA        = "/home/postgres/pgdata/data"
        PGBR_PG_PORT        = "5432"
        # timescaledb-ha.nomad.hcl puts a second socket here, on the shared host volume.
        PGBR_PG_SOCKET_DIR = "/home/postgres/pgdata/run"
        PGBR_LOG_PATH      = "/alloc/logs/pgbackrest"
        PGBR_LOCK_PATH     = "/tmp/pgbackrest"
        PGBR_SPOOL_PATH    = "/local/spool"
        FULL_WEEKDAY       = "${var.full_weekday}"
      }

      # The one pgBackRest template and its renderer, shipped verbatim (no Go template actions in either).
      template {
        destination = "local/pgbackrest.conf.tmpl"
        data        = "${file("deploy/pgbackrest/pgbackrest.conf.tmpl")}"
      }

      template {
        destination = "local/render.py"
        data        = "${file("deploy/common/render.py")}"
      }

      template {
        destination = "local/backup.sh"
        perms       = "755"
        data        = <<-EOT
          #!/bin/bash
          # A full backup on FULL_WEEKDAY, a differential otherwise (pgBackRest makes it a full when none exists).
          set -euo pipefail
          if ! python3 -c 'import sys, urllib.request; sys.exit(urllib.request.urlopen("http://127.0.0.1:8008/primary", timeout=5).status != 200)' 2>/dev/null; then
            echo "the Patroni member on this node is not the leader: the other allocation backs up"
            exit 0
          fi
          python3 /local/render.py /local/pgbackrest.conf.tmpl --from-env -o /local/pgbackrest.conf
          type=diff
          [ "$(TZ=Asia/Ho_Chi_Minh date +%u)" = "$FULL_WEEKDAY" ] && type=full
          br() { pgbackrest --config=/local/pgbackrest.conf --stanza="$PGBR_STANZA" "$@"; }
          # Idempotent: an existing stanza of this cluster is accepted as is.
          br stanza-create
          br check
          br --type="$type" --log-level-console=info backup
          br info
        EOT
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
