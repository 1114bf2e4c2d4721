// A tiny element factory: the dashboard builds its DOM by hand (no framework), and styles live
// in dashboard.css because the webview's CSP forbids inline <style> and style="" attributes.

export interface ElProps {
  class?: string;
  text?: string;
  attrs?: Record<string, string | number | boolean | undefined>;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElProps = {},
  children: Array<Node | string> = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined) node.textContent = props.text;
  setAttrs(node, props.attrs);
  for (const child of children) node.append(child);
  return node;
}

export function setAttrs(node: Element, attrs: ElProps['attrs']): void {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) node.removeAttribute(name);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
}

/** Replaces all children of `parent` (cheaper to read than a loop of removeChild). */
export function replaceChildren(parent: Element, ...children: Array<Node | string>): void {
  parent.replaceChildren(...children);
}
