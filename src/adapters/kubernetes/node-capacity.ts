// How many more pods of a given size fit on the nodes: allocatable minus what running pods request.
// Pure, so the arithmetic is tested without a cluster.
import { formatBytes, formatCpu } from './quantity.ts';

export interface NodeRoom {
  name: string;
  allocatable: { cpu: number; memory: number; pods: number };
  requested: { cpu: number; memory: number; pods: number };
}

export interface Fit {
  fits: number;
  perNode: { name: string; fits: number; line: string }[];
}

export function podsThatFit(nodes: NodeRoom[], perPod: { cpu: number; memory: number }): Fit {
  const perNode = nodes.map((node) => {
    const free = {
      cpu: node.allocatable.cpu - node.requested.cpu,
      memory: node.allocatable.memory - node.requested.memory,
      pods: node.allocatable.pods - node.requested.pods,
    };
    const byCpu = perPod.cpu > 0 ? Math.floor(free.cpu / perPod.cpu + 1e-9) : Infinity;
    const byMemory = perPod.memory > 0 ? Math.floor(free.memory / perPod.memory + 1e-9) : Infinity;
    const fits = Math.max(0, Math.min(byCpu, byMemory, free.pods));
    const line = `${node.name}: CPU ${formatCpu(node.requested.cpu)}/${formatCpu(node.allocatable.cpu)}, memory ${formatBytes(node.requested.memory)}/${formatBytes(node.allocatable.memory)}, pods ${node.requested.pods}/${node.allocatable.pods} requested; room for ${fits}`;
    return { name: node.name, fits, line };
  });
  return { fits: perNode.reduce((sum, n) => sum + n.fits, 0), perNode };
}
