// A set whose members are counted: added once per holder, gone with the last one. Pure.

/** A set of names, each counted as often as it is added: a name stays while something still names it. */
export class CountedSet {
  readonly names = new Set<string>();
  private readonly counts = new Map<string, number>();

  add(name: string | undefined, by: 1 | -1): void {
    if (name === undefined) return;
    const n = (this.counts.get(name) ?? 0) + by;
    if (n > 0) {
      this.counts.set(name, n);
      this.names.add(name);
    } else {
      this.counts.delete(name);
      this.names.delete(name);
    }
  }

  clear(): void {
    this.counts.clear();
    this.names.clear();
  }
}
