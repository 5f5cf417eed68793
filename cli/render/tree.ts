/** A line of the status tree and the lines under it. */
export interface TreeNode {
  label: string;
  children?: TreeNode[];
}

/** Draws nodes with box-drawing guides, the way `tree` and `kubectl argo rollouts get` do. */
export function renderTree(root: TreeNode): string {
  const lines = [root.label];
  const walk = (nodes: TreeNode[], prefix: string) => {
    nodes.forEach((node, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${node.label}`);
      if (node.children?.length) walk(node.children, `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(root.children ?? [], '');
  return lines.join('\n');
}
