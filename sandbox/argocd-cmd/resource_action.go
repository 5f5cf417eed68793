// Sluice's sandbox builds this into its Argo CD binary (sandbox/build.sh argocd). It runs a
// resource action as argocd-server does, without argocd-server: the overrides are read from
// argocd-cm by Argo CD's own settings code, the action's Lua runs in Argo CD's own VM, and what
// it returns is applied as a JSON merge patch against the live object, the status part through
// the status subresource (a CRD with one keeps status only there), the rest as a normal patch.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	jsonpatch "github.com/evanphx/json-patch"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
)

const resourceActionUsage = "usage: argocd resource-action ARGOCD_NAMESPACE GROUP VERSION RESOURCE NAMESPACE NAME ACTION|discover"

// resourceAction prints the actions discovery offers ("discover"), or runs one and prints the
// merge patch it applied ({} when the action changed nothing).
func resourceAction(args []string) error {
	if len(args) != 7 {
		return errors.New(resourceActionUsage)
	}
	argoNamespace, gvr, namespace, name, action := args[0], schema.GroupVersionResource{Group: args[1], Version: args[2], Resource: args[3]}, args[4], args[5], args[6]
	ctx := context.Background()
	config, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	overrides, err := settings.NewSettingsManager(ctx, clientset, argoNamespace).GetResourceOverrides()
	if err != nil {
		return fmt.Errorf("reading argocd-cm: %w", err)
	}
	client := dyn.Resource(gvr).Namespace(namespace)
	live, err := client.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	vm := lua.VM{ResourceOverrides: overrides}
	if action == "discover" {
		scripts, err := vm.GetResourceActionDiscovery(live)
		if err != nil {
			return err
		}
		actions, err := vm.ExecuteResourceActionDiscovery(live, scripts)
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(actions)
	}
	definition, err := vm.GetResourceAction(live, action)
	if err != nil {
		return err
	}
	impacted, err := vm.ExecuteResourceAction(live, definition.ActionLua, nil)
	if err != nil {
		return err
	}
	liveBytes, err := json.Marshal(live)
	if err != nil {
		return err
	}
	applied := []byte("{}")
	for _, r := range impacted {
		if r.K8SOperation != lua.PatchOperation || r.UnstructuredObj.GetName() != name {
			return fmt.Errorf("the action asked to %s %s: only a patch of the object itself is run here", r.K8SOperation, r.UnstructuredObj.GetName())
		}
		newBytes, err := json.Marshal(r.UnstructuredObj)
		if err != nil {
			return err
		}
		diff, err := jsonpatch.CreateMergePatch(liveBytes, newBytes)
		if err != nil {
			return err
		}
		if string(diff) == "{}" {
			continue
		}
		var patch map[string]any
		if err := json.Unmarshal(diff, &patch); err != nil {
			return err
		}
		if _, ok := patch["status"]; ok {
			if _, err := client.Patch(ctx, name, types.MergePatchType, diff, metav1.PatchOptions{}, "status"); err != nil {
				return fmt.Errorf("patching status: %w", err)
			}
			delete(patch, "status")
		}
		if len(patch) > 0 {
			rest, err := json.Marshal(patch)
			if err != nil {
				return err
			}
			if _, err := client.Patch(ctx, name, types.MergePatchType, rest, metav1.PatchOptions{}); err != nil {
				return err
			}
		}
		applied = diff
	}
	fmt.Println(string(applied))
	return nil
}
