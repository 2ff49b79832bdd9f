package vcardconv

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/easgate/easgate/eas"
)

// summary lists the EAS elements a contact sets, one "Field=value" each,
// sorted; lists are joined with "|", dates are dates, the picture and the
// body are described by their size.
func summary(c *eas.Contact) []string {
	var out []string
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		f := v.Field(i)
		switch name {
		case "Picture":
			if f.String() != "" {
				out = append(out, fmt.Sprintf("Picture=%d", len(f.String())))
			}
			continue
		case "Birthday", "Anniversary":
			if t := c.Birthday; name == "Anniversary" {
				t = c.Anniversary
				if !t.IsZero() {
					out = append(out, name+"="+t.Format("2006-01-02T15:04Z"))
				}
			} else if !t.IsZero() {
				out = append(out, name+"="+t.Format("2006-01-02T15:04Z"))
			}
			continue
		case "Categories":
			if c.Categories != nil {
				out = append(out, "Categories="+strings.Join(c.Categories.Category, "|"))
			}
			continue
		case "Children":
			if c.Children != nil {
				out = append(out, "Children="+strings.Join(c.Children.Child, "|"))
			}
			continue
		case "Body":
			if c.Body != nil {
				out = append(out, fmt.Sprintf("Body=%q truncated=%v size=%d", c.Body.Data, c.Body.Truncated, c.Body.EstimatedDataSize))
			}
			continue
		}
		if f.Kind() == reflect.String && f.String() != "" {
			out = append(out, name+"="+f.String())
		}
	}
	sort.Strings(out)
	return out
}
