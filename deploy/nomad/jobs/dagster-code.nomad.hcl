# Dagster code location: the gRPC server for vietmarket_pipelines. With the instance's DefaultRunLauncher,
# every run executes here, as a child process of this server (deploy/nomad/README.md, "How runs scale"), so
# this task is sized for max_concurrent_runs (dagster.yaml: 4) run workers at ~310 MB each.
#
#   nomad job run deploy/nomad/jobs/dagster-code.nomad.hcl          (from the repo root; before the webserver
#                                                                    and daemon, which find it by its service)
#
# Image: the Dagster image built from deploy/dagster/Dockerfile (locks/pipelines.txt, hash-pinned: dagster,
# dagster-webserver, dagster-postgres; vietmarket-core and vietmarket-pipelines), shared by the three Dagster
# jobs; push it where the clients can pull it.
# Secrets: Nomad variable vietmarket/dagster (dagster_pg_password, ingest_pg_password), shared by the three
# Dagster jobs through deploy/nomad/policies/dagster-vars.policy.hcl.

variable "image" {
  type    = string
  default = "vietmarket/dagster:latest"
}

job "dagster-code" {
  datacenters = ["*"]
  type        = "service"

  group "code" {
    count = 1

    # Linux clients run pg-haproxy, which this job reaches on its own node.
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
      port "grpc" {
        static = 4000
      }
    }

    task "code-server" {
      driver = "docker"

      config {
        image   = var.image
        command = "dagster"
        args    = ["api", "grpc", "-m", "vietmarket_pipelines.definitions", "-h", "0.0.0.0", "-p", "4000"]
        ports   = ["grpc"]
      }

      env {
        DAGSTER_HOME = "/local/dagster_home"
        # Run workers are this server's children: in-flight runs die with it (see the README).
        VIETMARKET_STEP_RETRIES      = "2"
        VIETMARKET_STEP_RETRY_DELAY_S = "30"
      }

      # The repository's dagster.yaml, byte for byte: postgres storage from DAGSTER_PG_URL, run queue limits,
      # run monitoring and run retries. Run workers started here load the instance from it.
      template {
        data        = file("dagster.yaml")
        destination = "local/dagster_home/dagster.yaml"
        change_mode = "restart"
      }

      # Both URLs go through the HAProxy on this node, port 5433 (the leader): Dagster's own `dagster`
      # database and the candles database live on the same Patroni cluster.
      template {
        destination = "secrets/dagster.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{- with nomadVar "vietmarket/dagster" }}
          DAGSTER_PG_URL=postgresql://vm_dagster:{{ .dagster_pg_password }}@{{ env "attr.unique.network.ip-address" }}:5433/dagster
          VIETMARKET_PG_URL=postgresql://vm_ingest:{{ .ingest_pg_password }}@{{ env "attr.unique.network.ip-address" }}:5433/vietmarket
          {{- end }}
        EOT
      }

      resources {
        cpu    = 3000
        memory = 2048
        # Headroom for four concurrent whole-market backfill runs (measured peak 313 MB each) plus the server;
        # takes effect where the cluster enables memory oversubscription.
        memory_max = 3072
      }

      service {
        name     = "dagster-code"
        provider = "nomad"
        port     = "grpc"

        check {
          name     = "grpc-port"
          type     = "tcp"
          interval = "10s"
          timeout  = "3s"
        }
      }
    }
  }
}
