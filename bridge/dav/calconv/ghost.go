package calconv

import (
	"reflect"
	"strings"
)

// KeepGhosted copies into in, a phone's event or task, the fields of old
// (the item as the server has it) that the phone left out and that are
// ghosted (eas.ItemUpdate.Ghosted): applied with ClearAbsent, in then
// clears only what the phone may clear by leaving it out. in and old
// point to the same item type. Exceptions are never copied: left out,
// they are not applied, and the occurrences stay as they are.
func KeepGhosted[T any](in, old *T, ghosted func(element string) bool) {
	iv, ov := reflect.ValueOf(in).Elem(), reflect.ValueOf(old).Elem()
	t := iv.Type()
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("wbxml"), ",")
		if _, name, ok := strings.Cut(tag, ":"); ok {
			tag = name
		}
		if tag == "" || tag == "Exceptions" || !ghosted(tag) || !iv.Field(i).IsZero() {
			continue
		}
		iv.Field(i).Set(ov.Field(i))
	}
}
