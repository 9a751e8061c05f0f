package notifications

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fillEveryField sets every exported field reachable from v to a value that
// is not empty, and fails on a kind it does not know, so that a field of a
// new kind is noticed here before the encoder meets it.
func fillEveryField(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2015, 3, 4, 5, 6, 7, 8, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x<" + path)
	case reflect.Int64:
		v.SetInt(7)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			require.True(t, f.IsExported(), "%s.%s: the encoder writes exported fields only", path, f.Name)
			fillEveryField(t, v.Field(i), path+"."+f.Name)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillEveryField(t, v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillEveryField(t, v.Index(i), path)
		}
	case reflect.Map:
		require.Equal(t, reflect.String, v.Type().Key().Kind(), path)
		v.Set(reflect.MakeMap(v.Type()))
		for _, k := range []string{"b", "a"} {
			elem := reflect.New(v.Type().Elem()).Elem()
			fillEveryField(t, elem, path)
			v.SetMapIndex(reflect.ValueOf(k), elem)
		}
	case reflect.Uint8: // inside []byte
		v.SetUint(0xfb)
	default:
		t.Fatalf("%s has kind %s: teach writeEvent (encode.go) and this test to write it", path, v.Kind())
	}
}

// jsonKeys collects the JSON paths of every object key in v.
func jsonKeys(v any, path string, keys map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			keys[path+"."+k] = true
			jsonKeys(x, path+"."+k, keys)
		}
	case []any:
		for _, x := range v {
			jsonKeys(x, path+"[]", keys)
		}
	}
}

// TestEncoderWritesEveryField is the tripwire of the hand-written encoder:
// with every field of Event, its target and its records set, the encoder
// must write what encoding/json writes, and every field must appear. A
// field added to any of these types and not to writeEvent fails here.
func TestEncoderWritesEveryField(t *testing.T) {
	var e Event
	fillEveryField(t, reflect.ValueOf(&e).Elem(), "event")
	checkEncoding(t, []Event{e})

	got, ok := appendEvent(nil, &e)
	require.True(t, ok)
	var decoded any
	require.NoError(t, json.Unmarshal(got, &decoded))
	keys := map[string]bool{}
	jsonKeys(decoded, "", keys)

	// Every field of every struct type reachable from Event has its key.
	var want func(typ reflect.Type, path string)
	want = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			if typ.Kind() == reflect.Slice {
				if typ.Elem().Kind() == reflect.Uint8 {
					return
				}
				path += "[]"
			}
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			assert.True(t, keys[path+"."+name], "field %s (%s.%s) not written", path+"."+name, typ.Name(), f.Name)
			want(f.Type, path+"."+name)
		}
	}
	want(reflect.TypeFor[Event](), "")
}
