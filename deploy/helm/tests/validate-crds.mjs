// Validates the chart's custom resources against their APIs' OpenAPI schemas, offline.
//
//   node validate-crds.mjs NODE_MODULES < objects.json
//
// objects.json is a JSON array of manifests. kubernetes-validate has no schemas for custom resources; the
// @kubernetes-models packages (pinned in requirements/helm/package-lock.json) ship validators compiled from the
// prometheus-operator and Gateway API types' OpenAPI schemas: types, required fields, enums, patterns and ranges.
// They accept unknown fields (as the API server does, pruning them), so the chart's tests assert the fields it
// relies on by name. A kind this script does not know is an error, never a skip.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const MODELS = {
  "monitoring.coreos.com/v1 ServiceMonitor": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js",
  "monitoring.coreos.com/v1 PrometheusRule": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.js",
  "gateway.networking.k8s.io/v1 HTTPRoute": "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute.js",
};

const [nodeModules] = process.argv.slice(2);
if (!nodeModules) {
  console.error("usage: node validate-crds.mjs NODE_MODULES < objects.json");
  process.exit(2);
}
const objects = JSON.parse(readFileSync(0, "utf8"));
let failures = 0;
for (const object of objects) {
  const kind = `${object.apiVersion} ${object.kind}`;
  const name = `${object.kind}/${object.metadata?.name}`;
  const module = MODELS[kind];
  if (!module) {
    console.log(`ERROR ${name}: no schema for ${kind}`);
    failures++;
    continue;
  }
  const models = await import(pathToFileURL(join(nodeModules, module)).href);
  try {
    new models[object.kind](object).validate();
    console.log(`OK ${name} (${kind})`);
  } catch (error) {
    console.log(`ERROR ${name} (${kind}): ${error.message}`);
    failures++;
  }
}
process.exit(failures === 0 ? 0 : 1);
