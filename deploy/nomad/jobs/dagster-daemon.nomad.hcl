# Dagster daemon: schedules (all Asia/Ho_Chi_Minh, set in code with execution_timezone), sensors, the run
# queue, backfills, run monitoring and run retries. Exactly one may run: two daemons would both tick the
# schedules and dequeue runs.
#
#   nomad job run deploy/nomad/jobs/dagster-daemon.nomad.hcl        (from the repo root; after dagster-code)

variable "image" {
  type    = string
  # deploy/dagster/Dockerfile: one image for the code server, the webserver and the daemon.
  default = "vietmarket/dagster:latest"
}

job "dagster-daemon" {
  datacenters = ["*"]
  type        = "service"

  group "daemon" {
    count = 1

    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }

    # A rolling update without canaries stops the old daemon before placing its replacement.
    update {
      max_parallel = 1
    }

    restart {
      attempts = 10
      interval = "30m"
      delay    = "15s"
      mode     = "delay"
    }

    # No network block: the daemon listens on nothing; it only connects out (Postgres, the code server).

    task "daemon" {
      driver = "docker"

      config {
        image   = var.image
        command = "dagster-daemon"
        args    = ["run", "-w", "/local/workspace.yaml"]
      }

      env {
        DAGSTER_HOME = "/local/dagster_home"
      }

      template {
        data        = file("dagster.yaml")
        destination = "local/dagster_home/dagster.yaml"
        change_mode = "restart"
      }

      template {
        destination = "local/workspace.yaml"
        change_mode = "restart"
        data        = <<-EOT
          load_from:
          {{- range nomadService "dagster-code" }}
            - grpc_server:
                host: {{ .Address }}
                port: {{ .Port }}
                location_name: vietmarket_pipelines
          {{- end }}
        EOT
      }

      template {
        destination = "secrets/dagster.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{- with nomadVar "vietmarket/dagster" }}
          DAGSTER_PG_URL=postgresql://vm_dagster:{{ .dagster_pg_password }}@{{ env "attr.unique.network.ip-address" }}:5433/dagster
          {{- end }}
        EOT
      }

      # Nomad's own checks are HTTP/TCP only and the daemon serves neither; its health is its heartbeat in the
      # `dagster` database (UI: Deployment > Daemons, or `dagster-daemon liveness-check` in the task).
      # Nomad restarts the task if the process exits.

      resources {
        cpu    = 300
        memory = 512
      }
    }
  }
}
