# syntax=docker/dockerfile:1
# NoETL worker image. Build from the repository root (the context must contain Directory.*.props and src/):
#   docker build -f deploy/docker/worker.Dockerfile -t noetl-worker:<tag> .
# Built here only as far as `dotnet publish` of the same command; no Docker engine was available (docs/deploy.md).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Central package versions and the shared build settings (TreatWarningsAsErrors, net10.0) live at the root.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/ src/
# The cache mount keeps NuGet packages between builds without baking them into a layer.
RUN --mount=type=cache,id=noetl-nuget,target=/root/.nuget/packages \
    dotnet publish src/Worker/Worker.csproj -c Release -o /app -p:UseAppHost=false

# aspnet rather than runtime: the same base layers as silo and gateway (pulled once per node), and the worker
# keeps working if it ever takes an ASP.NET Core dependency.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
# python3 for `kind: python` tasks (NOETL_PYTHON overrides the interpreter); /bin/sh is already there for
# `kind: shell`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /app ./
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1 \
    NOETL_LOG_FORMAT=json
# No ports: the worker pulls notifications from NATS and calls the gateway. Pass `--pool shared|system`.
# $APP_UID (1654) is the image's non-root "app" user; numeric so runAsNonRoot can verify it. Nothing is written
# outside /tmp, so the container runs with a read-only root filesystem (the chart mounts an emptyDir on /tmp).
USER $APP_UID
ENTRYPOINT ["dotnet", "NoEtl.Worker.dll"]
