using System.Text.Json.Nodes;

namespace NoEtl.Deploy.Tests;

/// <summary>One rendering of the chart, with lookups by kind and name and the container/env shapes the tests need.</summary>
public sealed class Rendered(string profile, IReadOnlyList<JsonObject> manifests)
{
    public string Profile { get; } = profile;
    public IReadOnlyList<JsonObject> Manifests { get; } = manifests;

    public static string Name(JsonObject manifest) => Str(manifest["metadata"]?["name"]);

    public IEnumerable<JsonObject> OfKind(string kind) => Manifests.Where(m => Str(m["kind"]) == kind);

    public JsonObject? Find(string kind, string name) => OfKind(kind).SingleOrDefault(m => Name(m) == name);

    public JsonObject Get(string kind, string name) =>
        Find(kind, name) ?? throw new Xunit.Sdk.XunitException(
            $"[{Profile}] no {kind} named {name}; rendered {kind}s: {string.Join(", ", OfKind(kind).Select(Name))}");

    public JsonObject Deployment(string component) => Get("Deployment", $"{HelmChart.Release}-{component}");

    /// <summary>Every Deployment and StatefulSet: what the security-context rules apply to.</summary>
    public IEnumerable<JsonObject> Workloads => Manifests.Where(m => Str(m["kind"]) is "Deployment" or "StatefulSet");

    public IEnumerable<JsonObject> WorkerDeployments => OfKind("Deployment").Where(d => Name(d).StartsWith($"{HelmChart.Release}-worker-", StringComparison.Ordinal));

    public static JsonObject PodSpec(JsonObject workload) => (JsonObject)workload["spec"]!["template"]!["spec"]!;

    public static JsonObject Container(JsonObject workload, string name) =>
        Containers(workload).SingleOrDefault(c => Str(c["name"]) == name)
        ?? throw new Xunit.Sdk.XunitException($"{Name(workload)} has no container {name}");

    public static IEnumerable<JsonObject> Containers(JsonObject workload) =>
        ((JsonArray)PodSpec(workload)["containers"]!).Cast<JsonObject>();

    public static IReadOnlyDictionary<string, JsonObject> Env(JsonObject container) =>
        ((JsonArray?)container["env"] ?? []).Cast<JsonObject>().ToDictionary(e => Str(e["name"]), e => e);

    /// <summary>The env var's literal value; fails if it comes from valueFrom or is missing.</summary>
    public static string EnvValue(JsonObject container, string name)
    {
        var env = Env(container);
        Assert.True(env.ContainsKey(name), $"{Str(container["name"])} lacks env {name}; has {string.Join(", ", env.Keys)}");
        return Str(env[name]["value"]);
    }

    /// <summary>(secret name, key) of an env var set through secretKeyRef.</summary>
    public static (string Secret, string Key) EnvSecret(JsonObject container, string name)
    {
        var env = Env(container);
        Assert.True(env.ContainsKey(name), $"{Str(container["name"])} lacks env {name}; has {string.Join(", ", env.Keys)}");
        var reference = env[name]["valueFrom"]?["secretKeyRef"];
        Assert.True(reference is not null, $"{name} is not read from a Secret");
        return (Str(reference["name"]), Str(reference["key"]));
    }

    public static string EnvFieldRef(JsonObject container, string name)
    {
        var env = Env(container);
        Assert.True(env.ContainsKey(name), $"{Str(container["name"])} lacks env {name}");
        return Str(env[name]["valueFrom"]?["fieldRef"]?["fieldPath"]);
    }

    /// <summary>Every (secret, key) pair a container reads, through env or envFrom.</summary>
    public static IEnumerable<(string Secret, string Key)> SecretRefs(JsonObject container)
    {
        foreach (var env in Env(container).Values)
        {
            if (env["valueFrom"]?["secretKeyRef"] is JsonObject r)
                yield return (Str(r["name"]), Str(r["key"]));
        }
        foreach (var from in ((JsonArray?)container["envFrom"] ?? []).Cast<JsonObject>())
        {
            if (from["secretRef"] is JsonObject r)
                yield return (Str(r["name"]), "*");
        }
    }

    public static IEnumerable<JsonObject> Volumes(JsonObject workload) =>
        ((JsonArray?)PodSpec(workload)["volumes"] ?? []).Cast<JsonObject>();

    /// <summary>Every Secret a pod mounts, through a secret volume or a projected volume's secret sources.</summary>
    public static IEnumerable<string> SecretVolumes(JsonObject workload)
    {
        foreach (var volume in Volumes(workload))
        {
            if (volume["secret"] is JsonObject secret)
                yield return Str(secret["secretName"]);
            foreach (var source in ((JsonArray?)volume["projected"]?["sources"] ?? []).Cast<JsonObject>())
            {
                if (source["secret"] is JsonObject projected)
                    yield return Str(projected["name"]);
            }
        }
    }

    /// <summary>
    /// Where a file path inside the container comes from: the mount whose path is a prefix of it, and the
    /// (Secret, key) projected at the remaining relative path. Fails unless it is a read-only secret volume item.
    /// </summary>
    public static (string Secret, string Key, JsonObject Mount) SecretFile(JsonObject workload, JsonObject container, string path)
    {
        var mount = ((JsonArray?)container["volumeMounts"] ?? []).Cast<JsonObject>()
            .Where(m => path.StartsWith(Str(m["mountPath"]).TrimEnd('/') + "/", StringComparison.Ordinal))
            .OrderByDescending(m => Str(m["mountPath"]).Length)
            .FirstOrDefault() ?? throw new Xunit.Sdk.XunitException($"{Name(workload)}: nothing is mounted at {path}");
        Assert.True(Str(mount["readOnly"]) == "true", $"{Name(workload)}: {Str(mount["mountPath"])} is not mounted read-only");
        Assert.Null(mount["subPath"]);
        var volume = Volumes(workload).Single(v => Str(v["name"]) == Str(mount["name"]));
        var secret = volume["secret"] ?? throw new Xunit.Sdk.XunitException($"{Name(workload)}: volume {Str(volume["name"])} is not a Secret");
        var relative = path[(Str(mount["mountPath"]).TrimEnd('/').Length + 1)..];
        var item = ((JsonArray?)secret["items"] ?? []).Cast<JsonObject>().SingleOrDefault(i => Str(i["path"]) == relative)
            ?? throw new Xunit.Sdk.XunitException($"{Name(workload)}: Secret {Str(secret["secretName"])} projects nothing at {relative}");
        return (Str(secret["secretName"]), Str(item["key"]), mount);
    }

    /// <summary>Every container of every Deployment and StatefulSet, with its workload.</summary>
    public IEnumerable<(JsonObject Workload, JsonObject Container)> AllContainers =>
        Workloads.SelectMany(w => Containers(w).Select(c => (w, c)));

    public static string Str(JsonNode? node) => node?.GetValue<string>() ?? "";
}
