package flows

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// MaxExpandedNodes bounds the YAML nodes of one file, counting each alias as all it names. A
// few lines of aliases of aliases stand for billions of values (a "billion laughs"), which a
// run would build, and which would take the process's memory.
const MaxExpandedNodes = 1 << 20

// checkAliases reports an alias inside the value it names (which would expand forever), or the
// innermost node where the file, with its aliases expanded, passes MaxExpandedNodes.
func checkAliases(file string, root *yaml.Node) *Error {
	c := aliasCounter{file: file, counts: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
	c.count(root)
	return c.err
}

type aliasCounter struct {
	file   string
	counts map[*yaml.Node]int  // nodes with an anchor: their expanded count
	open   map[*yaml.Node]bool // nodes with an anchor being counted
	err    *Error
}

// count returns the nodes n stands for, at most MaxExpandedNodes+1.
func (c *aliasCounter) count(n *yaml.Node) int {
	if c.err != nil {
		return MaxExpandedNodes + 1
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 1
		}
		if c.open[n.Alias] {
			c.err = &Error{Pos: NodePos(c.file, n), Msg: fmt.Sprintf("alias *%s is inside the value it names, which would repeat without end", n.Value)}
			return MaxExpandedNodes + 1
		}
		return c.count(n.Alias)
	}
	if k, ok := c.counts[n]; ok {
		return k
	}
	if n.Anchor != "" {
		c.open[n] = true
		defer delete(c.open, n)
	}
	total, inner := 1, false
	for _, m := range n.Content {
		k := c.count(m)
		inner = inner || k > MaxExpandedNodes
		total = min(total+k, MaxExpandedNodes+1)
	}
	if total > MaxExpandedNodes && !inner && c.err == nil {
		c.err = &Error{Pos: NodePos(c.file, n), Msg: fmt.Sprintf("%s that stands for more than %d values once its aliases are expanded: a file may hold at most %d", Describe(n), MaxExpandedNodes, MaxExpandedNodes)}
	}
	if n.Anchor != "" {
		c.counts[n] = total
	}
	return total
}
