package workspace

import (
	"context"
	"fmt"
)

// DocumentWorkspaces lists the workspaces that hold documents, sorted.
func (c *Catalog) DocumentWorkspaces(ctx context.Context) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT DISTINCT workspace FROM documents ORDER BY workspace`)
	if err != nil {
		return nil, fmt.Errorf("catalog: workspaces: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			return nil, fmt.Errorf("catalog: workspaces: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// EachDocumentFolder calls fn for every folder (the stored string) of the
// workspace's documents that have a version, in folder order, with the
// smallest key of those documents. It reads the documents_place index.
func (c *Catalog) EachDocumentFolder(ctx context.Context, workspace string, fn func(folder, firstKey string) error) error {
	rows, err := c.db.QueryContext(ctx, `SELECT d.folder, MIN(d.key) FROM documents d
		WHERE d.workspace = ? AND EXISTS (SELECT 1 FROM versions v WHERE v.document_key = d.key)
		GROUP BY d.folder ORDER BY d.folder`, workspace)
	if err != nil {
		return fmt.Errorf("catalog: folders of %q: %w", workspace, err)
	}
	defer rows.Close()
	for rows.Next() {
		var f, k string
		if err := rows.Scan(&f, &k); err != nil {
			return fmt.Errorf("catalog: folders of %q: %w", workspace, err)
		}
		if err := fn(f, k); err != nil {
			return err
		}
	}
	return rows.Err()
}
