// The Azure Bot that connects Herald to Teams. Its identity is the user-assigned managed identity created in
// ../azure.bicep (msaAppType UserAssignedMSI): Bot Framework tokens are issued to that identity, no secret involved.

@maxLength(20)
@minLength(4)
@description('Used to generate names for all resources in this file')
param resourceBaseName string

@maxLength(42)
param botDisplayName string

param botServiceName string = resourceBaseName

@description('F0 is free and unlimited for standard channels such as Teams; S1 is only needed for premium channels.')
@allowed([
  'F0'
  'S1'
])
param botServiceSku string = 'F0'

param identityResourceId string
param identityClientId string
param identityTenantId string

@description('Host name of the Web App that serves /api/messages')
param botAppDomain string

resource botService 'Microsoft.BotService/botServices@2022-09-15' = {
  kind: 'azurebot'
  location: 'global'
  name: botServiceName
  properties: {
    displayName: botDisplayName
    endpoint: 'https://${botAppDomain}/api/messages'
    msaAppId: identityClientId
    msaAppMSIResourceId: identityResourceId
    msaAppTenantId: identityTenantId
    msaAppType: 'UserAssignedMSI'
  }
  sku: {
    name: botServiceSku
  }
}

// Connect the bot to Microsoft Teams
resource botServiceMsTeamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: botService
  location: 'global'
  name: 'MsTeamsChannel'
  properties: {
    channelName: 'MsTeamsChannel'
  }
}

output BOT_SERVICE_NAME string = botService.name
