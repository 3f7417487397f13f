// Worker-thread entry of the renderer: planCluster off the operator's main
// thread, so that watches, writes, probes and leader renewals go on while a large cluster renders.
import { parentPort } from "node:worker_threads";
import { planCluster, type ClusterView, type RenderOptions } from "../render/index.js";

/** A request from the main thread. */
export interface RenderRequest {
  id: number;
  view: ClusterView;
  options?: RenderOptions;
}

parentPort?.on("message", (req: RenderRequest) => {
  try {
    parentPort?.postMessage({ id: req.id, plan: planCluster(req.view, req.options) });
  } catch (err) {
    parentPort?.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) });
  }
});
