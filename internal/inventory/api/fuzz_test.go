package api

import (
	"encoding/json"
	"testing"
)

// FuzzBatch decodes and validates hostile ingest bodies: no panic, and a
// batch that validates has strictly increasing sequence numbers.
func FuzzBatch(f *testing.F) {
	f.Add([]byte(`{"agentID":"a","stream":"s","host":"h","items":[{"seq":1,"type":"container","container":{"id":"` + cid + `","state":"running"}}]}`))
	f.Add([]byte(`{"agentID":"a","stream":"s","items":[{"seq":1,"type":"image","image":{"id":"` + iid + `","layers":[{"diffID":"x"}]}}]}`))
	f.Add([]byte(`{"agentID":"a","stream":"s","host":"h","items":[{"seq":2,"type":"findings","findings":{"subjectKind":"host","subjectID":"h","kind":"misconfig","findings":[{"id":""}]}}]}`))
	f.Add([]byte(`{"agentID":"a","stream":"s","items":[{"seq":1,"type":"alert","alert":{"rule":"r","containerID":"zz"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Batch
		if json.Unmarshal(data, &b) != nil {
			return
		}
		if b.Validate() != nil {
			return
		}
		for i := 1; i < len(b.Items); i++ {
			if b.Items[i].Seq <= b.Items[i-1].Seq {
				t.Fatalf("valid batch with non-increasing seq at %d", i)
			}
		}
	})
}
