/**
 * A Microsoft Entra access token for an Azure resource (`https://ml.azure.com`,
 * `https://management.azure.com`), for the programs this package runs outside a cloud SDK (the probe,
 * the Azure ML verification checker): from `@azure/identity`'s DefaultAzureCredential when that
 * optional peer is installed (environment service principal, workload or managed identity, Azure CLI
 * login...), else from the Azure CLI (`az account get-access-token`). Nothing here logs a token.
 *
 * Only node built-ins are imported: the checker runs from the compiled package at apply time.
 */
import { execFile } from 'child_process';

export interface AzureAccessToken {
  readonly token: string;
  /** When it expires, in milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** What is used of @azure/identity (an optional peer). */
interface AzureIdentity {
  DefaultAzureCredential: new () => { getToken(scope: string): Promise<{ token: string; expiresOnTimestamp: number } | null> };
}

/** Whether @azure/identity can be loaded from here (else the Azure CLI is used). */
export function azureIdentityInstalled(): boolean {
  return loadIdentity() !== undefined;
}

/** Where tokens come from, for messages: `@azure/identity (DefaultAzureCredential)` or `the Azure CLI`. */
export function azureTokenSource(): string {
  return azureIdentityInstalled() ? '@azure/identity (DefaultAzureCredential)' : 'the Azure CLI';
}

/** A token for `resource` (no `/.default`); rejects with a one-line reason when there is none. */
export async function azureAccessToken(resource: string): Promise<AzureAccessToken> {
  const identity = loadIdentity();
  if (identity === undefined) return azCliToken(resource);
  const t = await new identity.DefaultAzureCredential().getToken(`${resource}/.default`);
  if (!t) throw new Error('DefaultAzureCredential returned no token');
  return { token: t.token, expiresAt: t.expiresOnTimestamp };
}

function azCliToken(resource: string): Promise<AzureAccessToken> {
  return new Promise((resolve, reject) => {
    execFile('az', ['account', 'get-access-token', '--resource', resource, '--output', 'json'], { timeout: 60_000, shell: process.platform === 'win32' }, (error, stdout, stderr) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new Error(missing ? 'the Azure CLI (az) is not installed, and neither is @azure/identity' : `az account get-access-token failed: ${String(stderr).trim().split('\n').pop()}`));
        return;
      }
      try {
        const parsed = JSON.parse(stdout) as { accessToken: string; expires_on?: number; expiresOn?: string };
        if (typeof parsed.accessToken !== 'string' || parsed.accessToken === '') throw new Error('no accessToken');
        const expiresAt = parsed.expires_on !== undefined ? Number(parsed.expires_on) * 1000 : Date.parse(parsed.expiresOn ?? '') || Date.now() + 30 * 60_000;
        resolve({ token: parsed.accessToken, expiresAt });
      } catch (e) {
        reject(new Error(`az account get-access-token printed no token (${(e as Error).message})`));
      }
    });
  });
}

function loadIdentity(): AzureIdentity | undefined {
  try {
    return require('@azure/identity') as AzureIdentity;
  } catch {
    return undefined;
  }
}
