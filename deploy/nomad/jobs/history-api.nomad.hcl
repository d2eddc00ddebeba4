# History API as a Nomad service: the same image and command as deploy/history-api/docker-compose.yml (which
# stays the documented path for a host outside Nomad, e.g. Vultr), reading through the HAProxy replica port.
#
#   nomad job run deploy/nomad/jobs/history-api.nomad.hcl           (from the repo root)
#
# It listens on 127.0.0.1:8787 of its node, like the compose service; publish it from that node with
# `tailscale funnel --bg http://127.0.0.1:8787` (deploy/history-api/RUNBOOK.md, "Tailscale Funnel").
# Secrets: Nomad variable nomad/jobs/history-api (pg_password of the vietmarket_reader login role vm_api;
# api_keys, comma-separated).

variable "image" {
  type    = string
  default = "vietmarket/history-api:latest"
}

job "history-api" {
  datacenters = ["*"]
  type        = "service"

  group "api" {
    count = 1

    # Linux clients run pg-haproxy; the API reads from the one on its own node.
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }

    update {
      max_parallel     = 1
      health_check     = "checks"
      min_healthy_time = "10s"
      healthy_deadline = "3m"
    }

    restart {
      attempts = 10
      interval = "30m"
      delay    = "15s"
      mode     = "delay"
    }

    network {
      port "http" {
        static = 8787
      }
    }

    task "history-api" {
      driver = "docker"

      config {
        image   = var.image
        command = "history-api"
        # Host networking so it can bind the node's loopback, where Funnel proxies from.
        network_mode    = "host"
        readonly_rootfs = true
        cap_drop        = ["ALL"]
        security_opt    = ["no-new-privileges"]
        pids_limit      = 256

        mount {
          type   = "tmpfs"
          target = "/tmp"
          tmpfs_options {
            size = 16777216
          }
        }
      }

      env {
        HISTORY_API_HOST    = "127.0.0.1"
        PORT                = "8787"
        HISTORY_API_WORKERS = "2"
        PG_POOL_MAX         = "10"
      }

      # :5434 is the replicas listener; if no replica is healthy it refuses connections and /healthz says
      # db_unreachable (HA_TIMESCALE_RUNBOOK.md, "Client endpoints", for pointing it at :5433 meanwhile).
      template {
        destination = "secrets/history-api.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{- with nomadVar "nomad/jobs/history-api" }}
          HISTORY_API_PG_URL=postgresql://vm_api:{{ .pg_password }}@{{ env "attr.unique.network.ip-address" }}:5434/vietmarket
          HISTORY_API_KEYS={{ .api_keys }}
          {{- end }}
        EOT
      }

      resources {
        cpu    = 1000
        memory = 512
      }

      # The check reaches the loopback listener. A database outage makes /healthz answer 503 and the check
      # fail; there is deliberately no check_restart: the service reconnects by itself, a restart fixes nothing.
      service {
        name     = "history-api"
        provider = "nomad"
        port     = "http"
        address  = "127.0.0.1"

        check {
          name     = "healthz"
          type     = "http"
          path     = "/healthz"
          interval = "30s"
          timeout  = "5s"
        }
      }
    }
  }
}
