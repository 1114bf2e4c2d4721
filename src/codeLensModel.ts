// The budget lens's text when the backend cannot compute a budget: the config is mid-edit, so
// name the field to fix in a few words rather than the raw message (the Problems panel and the
// tooltip have the details). No vscode import: tested in Node.

/** "adapter.r: expected an integer >= 1, found 0 (fix it ...)" -> "Budget: fix adapter.r first". */
export function budgetUnavailableTitle(message: string): string {
  const first = message.split('\n')[0];
  const field = /^([A-Za-z_$][\w$]*(?:(?:\.[A-Za-z_$][\w$]*)|\[\d+\])*):/.exec(first)?.[1];
  if (field) return `Budget: fix ${field} first`;
  return `Budget unavailable: ${first.length > 80 ? `${first.slice(0, 79)}…` : first}`;
}
