# Dagster webserver (UI and GraphQL) on :3000. Stateless: everything it shows comes from the `dagster`
# database and the code location's gRPC server, so it can run anywhere and be restarted at will.
#
#   nomad job run deploy/nomad/jobs/dagster-webserver.nomad.hcl     (from the repo root; after dagster-code)

variable "image" {
  type    = string
  # deploy/dagster/Dockerfile: one image for the code server, the webserver and the daemon.
  default = "vietmarket/dagster:latest"
}

job "dagster-webserver" {
  datacenters = ["*"]
  type        = "service"

  group "webserver" {
    count = 1

    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }

    restart {
      attempts = 10
      interval = "30m"
      delay    = "15s"
      mode     = "delay"
    }

    network {
      port "http" {
        static = 3000
      }
    }

    task "webserver" {
      driver = "docker"

      config {
        image   = var.image
        command = "dagster-webserver"
        args    = ["-h", "0.0.0.0", "-p", "3000", "-w", "/local/workspace.yaml"]
        ports   = ["http"]
      }

      env {
        DAGSTER_HOME = "/local/dagster_home"
      }

      template {
        data        = file("dagster.yaml")
        destination = "local/dagster_home/dagster.yaml"
        change_mode = "restart"
      }

      # The workspace names the code server wherever Nomad placed it; a move re-renders this and restarts.
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

      resources {
        cpu    = 500
        memory = 768
      }

      service {
        name     = "dagster-webserver"
        provider = "nomad"
        port     = "http"

        check {
          name     = "server-info"
          type     = "http"
          path     = "/server_info"
          interval = "15s"
          timeout  = "5s"
        }
      }
    }
  }
}
