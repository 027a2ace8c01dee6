// Checks Kubernetes manifests: a file `kubectl kustomize` rendered, or a
// kustomization directory, rendered here where kubectl is not installed (the
// subset of kustomize the project's kustomizations use: resources, ConfigMap
// generators, JSON patches, images, labels). Every object must be valid
// against the Kubernetes schemas (kubernetes-models), and the objects
// consistent with each other as a split run needs them: the number of workers
// the same everywhere, the worker Job Indexed and never retried, any failure
// failing the run, nothing evictable, the workers pointed at the coordinator's
// Service. Prints, as JSON, the worker count and the command lines the pods
// run, for the job simulation; exits 1 naming each problem.
import { readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parse, parseAllDocuments } from "yaml";

const problems = [];
const check = (ok, what) => {
  if (!ok) problems.push(what);
};

const parseObjects = (text) => parseAllDocuments(text).map((d) => d.toJS());

// One JSON patch operation (replace or add) on `object`.
function applyPatch(object, { op, path, value }) {
  const keys = path.split("/").slice(1).map((k) => k.replaceAll("~1", "/").replaceAll("~0", "~"));
  const last = keys.pop();
  const parent = keys.reduce((node, key) => node[key], object);
  if (op !== "replace" && op !== "add") throw new Error(`patch op ${op}: not rendered here`);
  parent[last] = value;
}

function build(dir) {
  const k = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8"));
  const objects = [];
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? build(path) : parseObjects(readFileSync(path, "utf8"))));
  }
  for (const generator of k.configMapGenerator ?? []) {
    const data = {};
    for (const file of generator.files ?? []) data[basename(file)] = readFileSync(join(dir, file), "utf8");
    for (const literal of generator.literals ?? []) {
      const at = literal.indexOf("=");
      data[literal.slice(0, at)] = literal.slice(at + 1);
    }
    const existing = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === generator.name);
    if (generator.behavior === "merge" && existing) Object.assign(existing.data, data);
    else objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: generator.name }, data });
  }
  for (const { target, patch } of k.patches ?? []) {
    for (const o of objects) {
      if ((target.kind && o.kind !== target.kind) || (target.name && o.metadata.name !== target.name)) continue;
      for (const operation of parse(patch)) applyPatch(o, operation);
    }
  }
  for (const o of objects) {
    for (const container of o.spec?.template?.spec?.containers ?? []) {
      const image = (k.images ?? []).find((i) => i.name === container.image);
      if (image) container.image = `${image.newName ?? image.name}:${image.newTag ?? "latest"}`;
    }
    for (const { pairs } of k.labels ?? []) o.metadata.labels = { ...o.metadata.labels, ...pairs };
  }
  return objects;
}

const input = process.argv[2];
const documents = statSync(input).isDirectory() ? build(input) : parseObjects(readFileSync(input, "utf8"));
const objects = [];
for (const object of documents) {
  if (object == null) continue;
  const { apiVersion, kind } = object;
  let model;
  try {
    model = (await import(`kubernetes-models/${apiVersion}`))[kind];
  } catch {
    model = undefined;
  }
  if (model === undefined) {
    problems.push(`${apiVersion} ${kind}: not a Kubernetes kind`);
    continue;
  }
  try {
    new model(object).validate();
  } catch (e) {
    problems.push(`${kind} ${object.metadata?.name}: ${e.message}`);
  }
  objects.push(object);
}

let missing = false;
const one = (kind, prefix) => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name.startsWith(prefix));
  check(found.length === 1, `expected one ${kind} ${prefix}*, found ${found.length}`);
  missing ||= found.length !== 1;
  return found[0] ?? {};
};
const coordinator = one("Job", "loadbench-coordinator");
const workers = one("Job", "loadbench-workers");
const service = one("Service", "loadbench-coordinator");
const settings = one("ConfigMap", "loadbench-settings");
const budget = one("PodDisruptionBudget", "loadbench");
const volume = one("PersistentVolumeClaim", "loadbench-results");
if (missing) {
  console.error(problems.join("\n"));
  process.exit(1);
}

const n = Number(settings.data?.workers);
check(Number.isInteger(n) && n >= 1, `loadbench-settings workers '${settings.data?.workers}' is not a count`);
const ws = workers.spec;
check(ws.completionMode === "Indexed", "the worker Job is not Indexed (no JOB_COMPLETION_INDEX)");
check(ws.completions === n, `the worker Job's completions (${ws.completions}) are not the ${n} workers`);
check(ws.parallelism === n, `the worker Job's parallelism (${ws.parallelism}) is not the ${n} workers: all must run at once`);
check(ws.backoffLimitPerIndex === 0 && ws.maxFailedIndexes === 0, "a worker may be retried (backoffLimitPerIndex and maxFailedIndexes must be 0)");
const rules = ws.podFailurePolicy?.rules ?? [];
check(
  rules.some((r) => r.action === "FailJob" && r.onExitCodes?.operator === "NotIn" && r.onExitCodes.values.length === 1 && r.onExitCodes.values[0] === 0),
  "no podFailurePolicy rule fails the run on a worker's non-zero exit",
);
check(
  rules.some((r) => r.action === "FailJob" && r.onPodConditions?.some((c) => c.type === "DisruptionTarget")),
  "no podFailurePolicy rule fails the run when a worker is disrupted",
);
check(coordinator.spec.backoffLimit === 0, "the coordinator Job may be retried (backoffLimit must be 0)");
for (const job of [coordinator, workers]) {
  const pod = job.spec.template;
  const name = job.metadata.name;
  check(pod.spec.restartPolicy === "Never", `${name}: restartPolicy is not Never`);
  check(job.spec.activeDeadlineSeconds > 0, `${name}: no activeDeadlineSeconds`);
  check(pod.metadata.annotations?.["cluster-autoscaler.kubernetes.io/safe-to-evict"] === "false", `${name}: its pods may be evicted by the autoscaler`);
  const selector = budget.spec.selector.matchLabels;
  check(Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v), `${name}: its pods are not in the PodDisruptionBudget`);
}
check(budget.spec.maxUnavailable === 0, "the PodDisruptionBudget allows evictions");
check(
  (ws.template.spec.topologySpreadConstraints ?? []).some((t) => t.topologyKey === "kubernetes.io/hostname"),
  "the workers are not spread across nodes",
);

// The coordinator's command line, with the worker count from the settings.
const coordinatorContainer = coordinator.spec.template.spec.containers[0];
const env = Object.fromEntries(
  (coordinatorContainer.env ?? []).map((e) => {
    const ref = e.valueFrom?.configMapKeyRef;
    const fromSettings = ref && ref.name === settings.metadata.name ? settings.data[ref.key] : undefined;
    return [e.name, e.value ?? fromSettings];
  }),
);
const coordinatorArgs = coordinatorContainer.args.map((a) => a.replace(/\$\((\w+)\)/g, (_, v) => env[v] ?? `$(${v})`));
const flag = (args, name) => args[args.indexOf(name) + 1];
check(coordinatorArgs[0] === "coordinate", "the coordinator does not run `coordinate`");
check(flag(coordinatorArgs, "--workers") === String(n), `the coordinator waits for ${flag(coordinatorArgs, "--workers")} workers, not ${n}`);
const listenPort = Number(flag(coordinatorArgs, "--listen").split(":").pop());
const port = (coordinatorContainer.ports ?? []).find((p) => p.containerPort === listenPort);
check(port !== undefined, `the coordinator listens on ${listenPort}, which its container does not expose`);
const servicePort = service.spec.ports.find((p) => p.targetPort === port?.name || p.targetPort === listenPort);
check(servicePort !== undefined, "the Service does not forward to the coordinator's port");
check(
  Object.entries(service.spec.selector).every(([k, v]) => coordinator.spec.template.metadata.labels?.[k] === v),
  "the Service does not select the coordinator's pod",
);
check(
  !Object.entries(service.spec.selector).every(([k, v]) => ws.template.metadata.labels?.[k] === v),
  "the Service selects the workers too",
);
const workerArgs = ws.template.spec.containers[0].args;
check(workerArgs[0] === "work", "the workers do not run `work`");
check(
  flag(workerArgs, "--coordinator") === `${service.metadata.name}:${servicePort?.port}`,
  `the workers reach ${flag(workerArgs, "--coordinator")}, not the Service ${service.metadata.name}:${servicePort?.port}`,
);
check(!workerArgs.includes("--worker-index"), "the workers name an index: it must come from JOB_COMPLETION_INDEX");
const volumes = coordinator.spec.template.spec.volumes ?? [];
check(
  volumes.some((v) => v.persistentVolumeClaim?.claimName === volume.metadata.name),
  "the coordinator does not keep its results on the results volume",
);
const scenarioVolume = volumes.find((v) => v.configMap);
check(
  scenarioVolume && objects.some((o) => o.kind === "ConfigMap" && o.metadata.name === scenarioVolume.configMap.name && o.data?.["scenario.yaml"]),
  "the coordinator's scenario ConfigMap is missing",
);

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(JSON.stringify({ workers: n, coordinator: coordinatorArgs, worker: workerArgs, scenario: objects.find((o) => o.metadata.name === scenarioVolume.configMap.name).data["scenario.yaml"] }));
