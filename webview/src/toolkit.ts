// Every use of @vscode/webview-ui-toolkit lives in this file. Microsoft archived the toolkit in
// January 2025; its maintained successor is @vscode-elements/elements. Swapping means rewriting
// these factories only: the rest of the dashboard sees plain HTMLElements with `data-control`
// attributes (which the browser tests use too) and typed callbacks.
// Not used on purpose: <vscode-badge> and <vscode-tag>, whose shared template sets a style=""
// attribute that a CSP without 'unsafe-inline' blocks (and reports); the header draws its
// pills with plain spans and dashboard.css instead.
import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeDropdown,
  vsCodeOption,
  vsCodePanels,
  vsCodePanelTab,
  vsCodePanelView,
  vsCodeRadio,
  vsCodeRadioGroup,
} from '@vscode/webview-ui-toolkit';

let registered = false;

export function registerToolkit(): void {
  if (registered) return;
  registered = true;
  provideVSCodeDesignSystem().register(
    vsCodeButton(),
    vsCodeCheckbox(),
    vsCodeDropdown(),
    vsCodeOption(),
    vsCodePanels(),
    vsCodePanelTab(),
    vsCodePanelView(),
    vsCodeRadio(),
    vsCodeRadioGroup(),
  );
}

// The toolkit's elements fire `change` also when their value is set from code; these factories
// swallow those so callbacks only see user actions.

export interface Tabs<Id extends string> {
  readonly element: HTMLElement;
  panel(id: Id): HTMLElement;
  readonly active: Id;
  setActive(id: Id): void;
}

export function createTabs<Id extends string>(
  tabs: ReadonlyArray<{ id: Id; label: string }>,
  active: Id,
  onChange: (id: Id) => void,
): Tabs<Id> {
  const root = document.createElement('vscode-panels');
  root.dataset.control = 'tabs';
  root.setAttribute('aria-label', 'Dashboard sections');
  const panels = new Map<Id, HTMLElement>();
  for (const tab of tabs) {
    const tabEl = document.createElement('vscode-panel-tab');
    tabEl.id = `tab-${tab.id}`;
    tabEl.dataset.tab = tab.id;
    tabEl.textContent = tab.label;
    root.append(tabEl);
  }
  for (const tab of tabs) {
    const view = document.createElement('vscode-panel-view');
    view.id = `view-${tab.id}`;
    view.dataset.panel = tab.id;
    panels.set(tab.id, view);
    root.append(view);
  }
  let current = active;
  let silent = false;
  root.setAttribute('activeid', `tab-${active}`);
  root.addEventListener('change', (event) => {
    if (event.target !== root || silent) return;
    // The `activeid` property is current; its attribute is reflected a task later.
    const activeId = (root as HTMLElement & { activeid?: string }).activeid ?? root.getAttribute('activeid') ?? '';
    const id = activeId.replace(/^tab-/, '') as Id;
    if (!panels.has(id) || id === current) return;
    current = id;
    onChange(id);
  });
  return {
    element: root,
    panel: (id) => panels.get(id)!,
    get active() {
      return current;
    },
    setActive(id) {
      current = id;
      silent = true;
      root.setAttribute('activeid', `tab-${id}`);
      silent = false;
    },
  };
}

export interface Toggle {
  readonly element: HTMLElement;
  checked: boolean;
}

export function createToggle(label: string, checked: boolean, onChange: (checked: boolean) => void, control: string): Toggle {
  const box = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
  box.dataset.control = control;
  box.textContent = label;
  box.checked = checked;
  if (checked) box.setAttribute('checked', '');
  let silent = false;
  box.addEventListener('change', () => {
    if (!silent) onChange(box.checked);
  });
  return {
    element: box,
    get checked() {
      return box.checked;
    },
    set checked(value: boolean) {
      silent = true;
      box.checked = value;
      silent = false;
    },
  };
}

export interface ChoiceOption<T extends string> {
  value: T;
  label: string;
}

export interface Choice<T extends string> {
  readonly element: HTMLElement;
  readonly value: T;
  setOptions(options: ReadonlyArray<ChoiceOption<T>>, value: T): void;
}

export function createDropdown<T extends string>(
  ariaLabel: string,
  options: ReadonlyArray<ChoiceOption<T>>,
  value: T,
  onChange: (value: T) => void,
  control: string,
): Choice<T> {
  const dropdown = document.createElement('vscode-dropdown') as HTMLElement & { value: string };
  dropdown.dataset.control = control;
  dropdown.setAttribute('aria-label', ariaLabel);
  let current = value;
  let silent = false;
  const fill = (opts: ReadonlyArray<ChoiceOption<T>>, selected: T) => {
    silent = true;
    dropdown.replaceChildren(
      ...opts.map((o) => {
        const option = document.createElement('vscode-option');
        option.setAttribute('value', o.value);
        option.dataset.value = o.value;
        option.textContent = o.label;
        if (o.value === selected) option.setAttribute('selected', '');
        return option;
      }),
    );
    current = selected;
    dropdown.value = selected;
    silent = false;
  };
  fill(options, value);
  dropdown.addEventListener('change', () => {
    if (silent || dropdown.value === current) return;
    current = dropdown.value as T;
    onChange(current);
  });
  return {
    element: dropdown,
    get value() {
      return current;
    },
    setOptions: fill,
  };
}

export function createRadioGroup<T extends string>(
  label: string,
  options: ReadonlyArray<ChoiceOption<T>>,
  value: T,
  onChange: (value: T) => void,
  control: string,
): Choice<T> & { setDisabled(value: T, disabled: boolean): void } {
  const group = document.createElement('vscode-radio-group') as HTMLElement & { value: string };
  group.dataset.control = control;
  const caption = document.createElement('label');
  caption.slot = 'label';
  caption.textContent = label;
  group.append(caption);
  const radios = new Map<T, HTMLElement>();
  let current = value;
  let silent = false;
  const fill = (opts: ReadonlyArray<ChoiceOption<T>>, selected: T) => {
    silent = true;
    for (const radio of radios.values()) radio.remove();
    radios.clear();
    for (const o of opts) {
      const radio = document.createElement('vscode-radio') as HTMLElement & { checked: boolean };
      radio.setAttribute('value', o.value);
      radio.dataset.value = o.value;
      radio.textContent = o.label;
      if (o.value === selected) radio.setAttribute('checked', '');
      radios.set(o.value, radio);
      group.append(radio);
    }
    current = selected;
    group.value = selected;
    silent = false;
  };
  fill(options, value);
  group.addEventListener('change', () => {
    if (silent || !group.value || group.value === current) return;
    current = group.value as T;
    onChange(current);
  });
  return {
    element: group,
    get value() {
      return current;
    },
    setOptions: fill,
    setDisabled(v, disabled) {
      radios.get(v)?.toggleAttribute('disabled', disabled);
    },
  };
}

export function createButton(label: string, onClick: () => void, control: string, secondary = false): HTMLElement {
  const button = document.createElement('vscode-button');
  button.dataset.control = control;
  button.textContent = label;
  if (secondary) button.setAttribute('appearance', 'secondary');
  button.addEventListener('click', onClick);
  return button;
}
