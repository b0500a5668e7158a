export interface HostileCase {
  kind: string;
  chunks: (string | Buffer)[];
  expect: number | null;
  abortAfterMs?: number;
}
export function hostileCase(i: number): HostileCase;
export function rawRequest(
  port: number,
  c: { chunks: (string | Buffer)[]; abortAfterMs?: number },
): Promise<{ status: number | null; head: string; body: string }>;
