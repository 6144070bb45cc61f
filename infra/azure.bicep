// Herald in Azure: everything `teamsapp provision --env <env>` creates in one resource group.
// The bot's identity is a user-assigned managed identity (no client secret anywhere); it also reads and writes
// Herald's Table Storage through Entra ID, since the storage account has shared keys disabled.

@maxLength(20)
@minLength(4)
@description('Used to generate names for all resources in this file')
param resourceBaseName string

@description('App Service plan SKU. B1 is the smallest Linux tier with Always On, which a notification bot needs.')
param webAppSKU string = 'B1'

@maxLength(42)
@description('Display name of the Azure Bot')
param botDisplayName string

@description('Azure Bot pricing tier. F0 is free and unlimited for the Teams channel (a standard channel).')
@allowed([
  'F0'
  'S1'
])
param botServiceSku string = 'F0'

@secure()
@minLength(16)
@description('Bearer key of Herald\'s HTTP API (HERALD_API_KEY). Comes from SECRET_HERALD_API_KEY.')
param heraldApiKey string

@description('The Teams app id (manifest id), for installing Herald for users through Microsoft Graph.')
param teamsAppId string = ''

@description('Herald\'s id in the org app catalog (written by `teamsapp publish`); enables installs through Graph.')
param teamsAppCatalogId string = ''

@description('Client id of the tab\'s Microsoft Entra app (aadApp/create): Teams SSO tokens are issued for it.')
param aadAppClientId string = ''

@description('Tenant of that Entra app: only its people may sign in to the tab.')
param aadAppTenantId string = tenant().tenantId

@description('Entra object ids or UPNs (comma-separated) who may send from the tab without the Herald.Sender app role.')
param heraldSenders string = ''

@description('Herald\'s log level (pino): trace, debug, info, warn, error or fatal.')
param logLevel string = 'info'

param serverfarmsName string = resourceBaseName
param webAppName string = resourceBaseName
param identityName string = resourceBaseName
param storageAccountName string = 'st${uniqueString(resourceGroup().id, resourceBaseName)}'
param location string = resourceGroup().location

// The tables Herald's azure-table store uses (HERALD_TABLE_PREFIX defaults to "herald").
var heraldTables = [
  'heraldtargets'
  'heraldmembers'
  'heraldmemberindex'
  'heraldjobs'
  'heralddeliveries'
  'heraldprefs'
  'heraldschedules'
  'heraldinbox'
]

// Built-in role "Storage Table Data Contributor": read, write and delete table entities.
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

// The bot's identity: BOT_ID is its client id, and the Web App runs as it.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  location: location
  name: identityName
}

// Herald's data: targets, members, jobs, deliveries, preferences and schedules in Table Storage.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false // Entra ID only: Herald authenticates with the managed identity
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in heraldTables: {
    parent: tableService
    name: table
  }
]

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, storageTableDataContributorRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Logs and telemetry.
resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${resourceBaseName}-logs'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${resourceBaseName}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
  }
}

// Compute for the Web App: a Linux plan.
resource serverfarm 'Microsoft.Web/serverfarms@2023-12-01' = {
  kind: 'linux'
  location: location
  name: serverfarmsName
  sku: {
    name: webAppSKU
  }
  properties: {
    reserved: true // Linux
  }
}

var tableEndpoint = storage.properties.primaryEndpoints.table

// The Web App that runs Herald (bot endpoint, HTTP API and delivery engine in one Node 20 process).
resource webApp 'Microsoft.Web/sites@2023-12-01' = {
  kind: 'app,linux'
  location: location
  name: webAppName
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: serverfarm.id
    httpsOnly: true
    clientAffinityEnabled: false
    // Key Vault references in app settings (e.g. for HERALD_API_KEY) resolve with the bot's identity.
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'NODE|20-lts'
      appCommandLine: 'npm start'
      alwaysOn: true // the delivery engine and schedules run in the background
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      healthCheckPath: '/api/health'
      appSettings: [
        {
          name: 'BOT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'BOT_TYPE'
          value: 'UserAssignedMsi'
        }
        {
          name: 'BOT_TENANT_ID'
          value: identity.properties.tenantId
        }
        {
          name: 'HERALD_API_KEY'
          value: heraldApiKey
        }
        {
          // Table Storage with the managed identity; the endpoint without its trailing slash.
          name: 'HERALD_STORE'
          value: 'azure-table:${endsWith(tableEndpoint, '/') ? substring(tableEndpoint, 0, length(tableEndpoint) - 1) : tableEndpoint}'
        }
        {
          // The identity DefaultAzureCredential (Table Storage, Graph) uses.
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'RUNNING_ON_AZURE'
          value: '1'
        }
        {
          name: 'TEAMS_APP_ID'
          value: teamsAppId
        }
        {
          name: 'TEAMS_APP_CATALOG_ID'
          value: teamsAppCatalogId
        }
        {
          name: 'AAD_APP_CLIENT_ID'
          value: aadAppClientId
        }
        {
          name: 'AAD_APP_TENANT_ID'
          value: aadAppTenantId
        }
        {
          // The tab's token audience is api://<this host>/<client id> (aad.manifest.json).
          name: 'BOT_DOMAIN'
          value: '${webAppName}.azurewebsites.net'
        }
        {
          name: 'HERALD_SENDERS'
          value: heraldSenders
        }
        {
          name: 'LOG_LEVEL'
          value: logLevel
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          // App Service's codeless Application Insights agent for Node.js on Linux (requests, dependencies, console).
          name: 'ApplicationInsightsAgent_EXTENSION_VERSION'
          value: '~3'
        }
        {
          name: 'WEBSITE_RUN_FROM_PACKAGE'
          value: '1' // run from the deployed zip, read-only: nothing is ever written to the app's disk
        }
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'false' // `teamsapp deploy` uploads the built app with its node_modules
        }
      ]
    }
  }
  dependsOn: [
    tables
    tableDataContributor
  ]
}

// Register the Web App as a bot with the Bot Framework, and connect it to Teams.
module azureBotRegistration './botRegistration/azurebot.bicep' = {
  name: 'Azure-Bot-registration'
  params: {
    resourceBaseName: resourceBaseName
    botServiceSku: botServiceSku
    identityClientId: identity.properties.clientId
    identityResourceId: identity.id
    identityTenantId: identity.properties.tenantId
    botAppDomain: webApp.properties.defaultHostName
    botDisplayName: botDisplayName
  }
}

// The outputs are written to env/.env.<env>. Visit https://aka.ms/teamsfx-actions/arm-deploy for details.
output BOT_ID string = identity.properties.clientId
output BOT_TENANT_ID string = identity.properties.tenantId
output BOT_DOMAIN string = webApp.properties.defaultHostName
output BOT_ENDPOINT string = 'https://${webApp.properties.defaultHostName}'
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = webApp.id
output STORAGE_TABLE_ENDPOINT string = tableEndpoint
