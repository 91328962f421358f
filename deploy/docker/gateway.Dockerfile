# syntax=docker/dockerfile:1
# NoETL gateway image. Build from the repository root (the context must contain Directory.*.props and src/):
#   docker build -f deploy/docker/gateway.Dockerfile -t noetl-gateway:<tag> .
# Built here only as far as `dotnet publish` of the same command; no Docker engine was available (docs/deploy.md).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Central package versions and the shared build settings (TreatWarningsAsErrors, net10.0) live at the root.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/ src/
# The cache mount keeps NuGet packages between builds without baking them into a layer.
RUN --mount=type=cache,id=noetl-nuget,target=/root/.nuget/packages \
    dotnet publish src/ApiGateway/ApiGateway.csproj -c Release -o /app -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1 \
    NOETL_LOG_FORMAT=json \
    ASPNETCORE_URLS=http://0.0.0.0:8082
# The NoETL HTTP API (/health liveness, /api/health readiness), /metrics, /openapi/v1.json, /dashboard.
EXPOSE 8082
# $APP_UID (1654) is the image's non-root "app" user; numeric so runAsNonRoot can verify it. Nothing is written
# outside /tmp, so the container runs with a read-only root filesystem (the chart mounts an emptyDir on /tmp).
USER $APP_UID
ENTRYPOINT ["dotnet", "NoEtl.ApiGateway.dll"]
