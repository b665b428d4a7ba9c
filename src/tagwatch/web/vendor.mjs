// Copy the dashboard's libraries from node_modules into static/vendor (run by `make setup`
// after `npm ci`). No bundler: the page loads these files as they ship, from this origin.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const vendor = join(here, "static", "vendor");

const files = [
  ["leaflet/dist/leaflet.js", "leaflet/leaflet.js"],
  ["leaflet/dist/leaflet.css", "leaflet/leaflet.css"],
  ["leaflet/dist/images", "leaflet/images"],
  ["leaflet.markercluster/dist/leaflet.markercluster.js", "markercluster/leaflet.markercluster.js"],
  ["leaflet.markercluster/dist/MarkerCluster.css", "markercluster/MarkerCluster.css"],
  ["leaflet.markercluster/dist/MarkerCluster.Default.css", "markercluster/MarkerCluster.Default.css"],
  ["@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.js", "geoman/leaflet-geoman.js"],
  ["@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css", "geoman/leaflet-geoman.css"],
  ["topojson-client/dist/topojson-client.min.js", "topojson/topojson-client.min.js"],
  ["world-atlas/countries-50m.json", "world-atlas/countries-50m.json"],
];

rmSync(vendor, { recursive: true, force: true });
for (const [from, to] of files) {
  const target = join(vendor, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(modules, from), target, { recursive: true });
}
console.log(`dashboard libraries copied to ${vendor}`);
