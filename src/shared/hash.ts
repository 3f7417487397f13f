// The one content hash of the project: sha256 as hex, for config texts,
// published JSON, Secret digests and pod template checksums. Pure.
import { createHash } from "node:crypto";

/** sha256 of `text` (UTF-8), as 64 hex digits. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
